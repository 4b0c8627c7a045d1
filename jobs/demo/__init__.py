"""The demo pipeline: a deterministic stand-in for the team's batch pipeline.

`run_demo(settings)` writes every file of DATA.md and registers the champion
and challenger models in the MLflow registry the settings name.
"""

from jobs.demo.pipeline import DemoSummary, run_demo

__all__ = ["DemoSummary", "run_demo"]
