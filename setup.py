from setuptools import setup

setup(
    name="recbole-bert4rec",
    version="0.1.0",
    description="BERT4Rec as a first-class RecBole plugin: fast masking loader, full-sort evaluation, Ray Tune search",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9,<3.12",  # ray 2.6.3 (RecBole 1.2.1's ceiling) has no wheels for Python >= 3.12
    packages=["recbole_bert4rec", "recbole_bert4rec.tune", "recbole_bert4rec.properties"],
    # properties/ sits at the top of the repo (RecBole-GNN layout) and ships inside the package.
    package_dir={"recbole_bert4rec.properties": "properties"},
    package_data={"recbole_bert4rec.properties": ["*.yaml", "*/*.yaml", "*/*/*.yaml"]},
    py_modules=[],
    install_requires=[
        "recbole==1.2.1",  # the RecBole version whose internals (Config, Trainer, loaders) we build on
        "torch>=2.1",  # any recent torch; an installed one (e.g. the CPU 2.13.0) is reused, never replaced
        "numpy>=1.23,<2",  # ray 2.6.3 uses np.bool8, removed in numpy 2
        "pandas>=1.5,<3",  # pandas 3 copy-on-write turns RecBole's fillna(inplace=True) into silent no-ops
        "setuptools<81",  # ray 2.6.3 imports pkg_resources, removed in setuptools 81
        "ray[tune]>=2.6,<=2.6.3",  # RecBole 1.2.1 caps ray at 2.6.3
        "pyarrow>=12,<20",  # pyarrow >= 20 needs numpy 2 and then breaks `from ray import tune`
        "pyyaml>=6",
        "matplotlib>=3.7",  # PNG learning curves of the benchmarks and Ray Tune searches
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        "optuna": ["optuna>=3.6,<4"],  # --search-alg optuna (3.6.1 checked against Ray 2.6.3's wrapper)
    },
    entry_points={"console_scripts": [
        "recbole-bert4rec=recbole_bert4rec.cli:main",
        "recbole-bert4rec-recommend=recbole_bert4rec.inference_cli:main",
        "recbole-bert4rec-tune=recbole_bert4rec.tune.cli:main",
    ]},
)
