"""Storage: a checkpoint folder and its files (``checkpoint`` saves and loads models, ``checkpoint_folder`` owns a
folder's files, ``paths`` names them), the catalogue of shipped checkpoints (``zoo``), the Hugging Face Hub
(``hub``), model cards (``card``), bounded and atomic file I/O (``files``), one writer per run folder (``lock``) and
the pages' result cache (``page_cache``). Nothing here imports torch at import time except ``checkpoint``."""
