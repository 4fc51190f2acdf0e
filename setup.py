"""Packaging for the gated recurrent sequence-model toolkit."""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "toolkit" / "__init__.py").read_text()
).group(1)

setup(
    name="gated-rnn-toolkit",
    version=VERSION,
    description="Keras 3 toolkit for gated recurrent sequence models: cells, layers, inspection, export.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["toolkit", "toolkit.*", "recipes", "recipes.*"]),
    include_package_data=True,
    package_data={
        "recipes": [
            "data/*/*.csv",
            "data/*/*.tsv",
            "data/speech/*/*/*.wav",
            "data/speech/*/*/*.phn",
        ],
        "recipes.text_classification": ["presets/*.yaml"],
        "recipes.speech_tagging": ["presets/*.yaml"],
    },
    install_requires=[
        "tensorflow==2.21.*",
        "keras==3.15.*",
        "keras-hub==0.32.*",
        "scikit-learn",
        "scipy",
        "numpy",
        "matplotlib",
        "pyyaml",
        "sacrebleu>=2.4",
        "jiwer>=3",
        "tensorboard",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist",
            "hypothesis",
            "ruff",
            "nbformat",
            "nbclient",
            "ipykernel",
        ],
        "notebooks": ["jupyter", "nbformat", "nbclient", "ipykernel"],
        "jax": ["jax[cpu]"],
        # The CPU build: scripts/setup_env.sh installs it with pip (see its comment).
        "torch": ["torch==2.13.0"],
        "gpu": ["tensorflow[and-cuda]==2.21.*"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
