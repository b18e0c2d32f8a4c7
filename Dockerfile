# Hugging Face Docker Space: the VAE-GAN Explorer Streamlit app, CPU only, offline-ready.
#   docker build -t vaegan-explorer . && docker run -p 7860:7860 vaegan-explorer
# The port must match `app_port` in README.md's front matter (tests/test_dockerfile.py checks it).
# tests/test_space_image.py builds this file with podman from a debootstrapped Debian and runs it offline.
#
# Build arguments (the defaults are what the Space uses):
#   BASE_IMAGE    any Debian-like image with python3 (>= 3.10) and its venv module
#   TORCH_INDEX   the index CPU-only torch comes from (about 0.2 GB instead of the 5 GB CUDA build)
#   TORCH_SPEC    which torch and torchvision
#   PIP_OPTIONS   more pip options for every install (e.g. a local wheel folder: --find-links /wheels)
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_SPEC="torch>=2.2 torchvision>=0.17"
ARG PIP_OPTIONS=""

# Spaces run the container as uid 1000: create that user and install everything as it, into its own venv
# (Debian's system Python refuses `pip install --user`; a venv works on every base).
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/venv/bin:/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
WORKDIR $HOME/app

# CPU-only torch first; the project's own `torch` requirement is then already satisfied.
RUN python3 -m venv $HOME/venv && \
    pip install $PIP_OPTIONS --index-url ${TORCH_INDEX} ${TORCH_SPEC}

# The project, with the shipped checkpoints, classifiers, reference statistics and test splits,
# so the app starts with no network at all. Editable, so vaegan_core finds checkpoints/ beside it.
COPY --chown=user pyproject.toml README.md ./
COPY --chown=user vaegan_core ./vaegan_core
COPY --chown=user demo ./demo
COPY --chown=user checkpoints ./checkpoints
COPY --chown=user .streamlit ./.streamlit
RUN pip install $PIP_OPTIONS -e ".[app]"

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:7860/_stcore/health', timeout=4).read() != b'ok')"

# XSRF protection off: Spaces serve the app inside an iframe, where Streamlit's XSRF cookie is
# dropped and uploads would fail with 403.
CMD ["streamlit", "run", "demo/app.py", "--server.port=7860", "--server.address=0.0.0.0", "--server.enableXsrfProtection=false"]
