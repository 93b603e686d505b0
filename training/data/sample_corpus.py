"""Write the small sample corpus the demo trains on.

    python -m training.data.sample_corpus OUT_FILE [--num-tweets 3000] [--seed 0]

The project ships no tweets. This module makes its own: short status updates
from an imaginary bakery-and-bike-shop account, composed from phrase lists
written for this project, deterministic for a seed. It is a CSV export in the
same shape as real ones (header ``text``, quoted tweets with commas, a few
spanning two lines, typographic quotes and an emoji), so the demo exercises
the same parsing and normalisation as real data. A char-LSTM learns its
structure within a few epochs, which is what a demo needs.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

OPENERS = ["Good morning!", "Big news:", "Heads up,", "Reminder:", "Today only:",
           "Fun fact:", "Weekend plans?", "Quick update:", "Thank you all!", "Psst."]
SUBJECTS = ["the sourdough", "our new cargo bike", "the rye loaf", "the oven",
            "the cinnamon buns", "the repair bench", "the tandem", "our baker Sam",
            "the night shift", "the espresso machine", "the bread club",
            "the tire pump", "the croissant dough", "the delivery trike"]
VERBS = ["is back", "came out perfect", "needs a name", "is on sale",
         "sold out by noon", "got a tune-up", "is warming up", "won a ribbon",
         "rolled in early", "is taking orders", "smells amazing", "broke a record"]
DETAILS = ["at the Main Street shop", "before 9am", "for the third week in a row",
           "with extra seeds", "thanks to our regulars", "after a long night",
           "in the rain", "with a new chain", "for the street fair",
           "and nobody is surprised", "until Sunday", "on the corner table"]
CLOSERS = ["See you soon.", "Come say hi!", "Bring a friend.", "Ride safe!",
           "Stay warm out there.", "Don't miss it.", "Tag us in your photos.",
           "Orders close at 6pm.", "Bikes and bread, the perfect pair."]
HASHTAGS = ["#bakery", "#bikelife", "#sourdough", "#shoplocal", "#cycling",
            "#breadclub", "#morningride", "#freshbread"]


def compose(rng: random.Random) -> str:
    parts = [rng.choice(SUBJECTS).capitalize(), rng.choice(VERBS)]
    if rng.random() < 0.7:
        parts.append(rng.choice(DETAILS))
    body = " ".join(parts) + rng.choice([".", "!", "!!", "..."])
    if rng.random() < 0.5:
        body = f"{rng.choice(OPENERS)} {body}"
    if rng.random() < 0.3:
        body += f" {rng.choice(['Only', 'Just', 'Still'])} ${rng.randint(2, 40)}, cash or card."
    if rng.random() < 0.6:
        body += f" {rng.choice(CLOSERS)}"
    if rng.random() < 0.1:
        body = body.replace("'", "\u2019") + " \u201cBest in town\u201d, says a regular."
    if rng.random() < 0.05:
        body += "\n" + rng.choice(CLOSERS)  # a tweet with a line break in it
    if rng.random() < 0.03:
        body += " \U0001F950"  # croissant emoji: outside the vocabulary on purpose
    tags = rng.sample(HASHTAGS, k=rng.randint(0, 2))
    return " ".join([body, *tags])


def write_sample_corpus(path: Path, num_tweets: int = 3000, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        for _ in range(num_tweets):
            writer.writerow([compose(rng)])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.sample_corpus",
                                     description="Write the demo's sample tweet corpus.")
    parser.add_argument("out_file", type=Path)
    parser.add_argument("--num-tweets", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_sample_corpus(args.out_file, args.num_tweets, args.seed)
    print(f"{args.num_tweets:,} sample tweets -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
