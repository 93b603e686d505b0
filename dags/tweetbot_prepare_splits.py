"""
### tweetbot_prepare_splits

Splits a raw tweet export (one tweet per line, or a one-column CSV; a local path or an
`s3://` key) into train/validate/test by a hash of each tweet, and publishes them to the
splits location (a folder or an `s3://` prefix). Publishing updates the `tweetbot_splits`
asset, which triggers `tweetbot_training`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

import tweetbot_alerts as alerts
from tweetbot_airflow import SPLITS_ASSET


@task(outlets=[SPLITS_ASSET])
def split_and_publish(params=None, outlet_events=None) -> dict:
    from training import split

    published = split.split_and_publish(params["raw_location"] or "",
                                        params["splits_location"] or "")
    outlet_events[SPLITS_ASSET].extra = published
    return published


@dag(
    dag_id="tweetbot_prepare_splits",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={
        "raw_location": Param(None, type=["string", "null"], title="Raw tweets",
                              description="a local path or s3://bucket/key "
                                          "(default: $TWEETBOT_RAW_TWEETS)"),
        "splits_location": Param(None, type=["string", "null"], title="Publish to",
                                 description="a folder or s3://bucket/prefix (default: "
                                             "$TWEETBOT_SPLITS, else $TWEETBOT_HOME/splits)"),
    },
    tags=["tweetbot", "data"],
    on_failure_callback=alerts.RunFailed(),
)
def tweetbot_prepare_splits():
    split_and_publish()


tweetbot_prepare_splits()
