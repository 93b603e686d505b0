from training.model.checkpoints import EpochRecord, TrainingState, epochs_without_improvement


def test_early_stopping_counter_matches_keras_semantics():
    assert epochs_without_improvement([], 0.01) == 0
    assert epochs_without_improvement([3.0, 2.5, 2.0], 0.01) == 0
    # 2.995 is better, but not by min_delta: it counts as no improvement
    assert epochs_without_improvement([3.0, 2.995, 2.992, 2.991], 0.01) == 3
    assert epochs_without_improvement([3.0, 3.1, 2.5, 2.6], 0.01) == 1


def test_state_roundtrip_and_best(tmp_path):
    state = TrainingState(hyperparams={"rnn_size": 8}, fit={"num_epochs": 2})
    record = EpochRecord(1, 3.0, 2.5, 3.6, 1.0, 100.0, 0.01)
    assert state.improves_best(2.5)
    state.epochs.append(record)
    state.best_epoch = 1
    assert not state.improves_best(2.6) and not state.improves_best(float("nan"))
    state.save(tmp_path)
    loaded = TrainingState.load(tmp_path)
    assert loaded == state and loaded.best == record
    assert not list(tmp_path.glob(".*partial"))
    assert TrainingState.load(tmp_path / "missing") is None
