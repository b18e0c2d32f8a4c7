"""The app layer: what every front end (the Streamlit app, the Gradio app, the coming browser and live views) shows,
with no UI in it. ``explorer(root)`` is the process's ``Explorer`` of a checkpoints folder: its models, the dataset
view, the checkpoint folders, the FID results and the pages' computations. See ``explorer.py``."""

from .explorer import (LIVE, REFERENCE_IMAGES, DatasetView, Explorer, Opened, app_threads, clear_caches, dataset_label,
                       explorer, upload_style)
from .results import FID_METRICS, FID_METRICS_WITHOUT_PR, ResultStore

__all__ = ["LIVE", "DatasetView", "Explorer", "FID_METRICS", "FID_METRICS_WITHOUT_PR", "Opened", "REFERENCE_IMAGES",
           "ResultStore", "app_threads", "clear_caches", "dataset_label", "explorer", "upload_style"]
