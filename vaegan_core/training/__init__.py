"""Training: the Trainer (``train``), several processes (``distributed``), the datasets (``data``: MNIST,
Fashion-MNIST, digits; ``folders`` and ``folder_cache``: any image folder) and training live in the app (``live``,
``live_presets``)."""
