"""The steps of a run and what runs them.

    steps          the DAG's steps: validate the splits, start the search, suggest,
                   select, the base model and evaluation steps, register, promote
    run_config     a run's parameters (the trigger form's schema comes from them)
    run_inputs     what a run works on, as its first step found it
    run_key        what a run's result depends on: a run that changed nothing is skipped
    trial_run      one trial: its spec, its command line, running it
    training_run   one model trained inside an MLflow run (the train step, a trial's training)
    evaluation     the evaluate step: the new model and the champion on the test split
    local_search   a search on this machine, trials as local processes
    runner         a step as a local process: where its result and checkpoints go
    step_cost      what a step's process costs, charged to its MLflow run
    deadline, stop_signals   a hung epoch, and a stop asked by a signal
"""
