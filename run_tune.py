"""Ray Tune search: `python run_tune.py --model=BERT4Rec --dataset=ml-100k --num-samples=8 --epochs=20`."""

import sys

from recbole_bert4rec.tune.cli import main

if __name__ == "__main__":
    sys.exit(main())
