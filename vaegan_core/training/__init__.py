"""Training: the Trainer (``train``; beside it ``devices``: device, precision, threads and torch.compile;
``training_split``: the training split it holds; ``epoch_end``: what each epoch saves and the tracked quality;
``resume``: continuing a run), several processes (``distributed``), the datasets (``data``: MNIST, Fashion-MNIST,
digits; ``folders`` and ``folder_cache``: any image folder) and training live in the app (``live``,
``live_presets``)."""
