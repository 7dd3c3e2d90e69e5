"""Drop-in for RecBole's run_recbole.py: `python run_recbole.py --model=BERT4Rec --dataset=ml-100k`."""

import sys

from recbole_bert4rec.cli import main

if __name__ == "__main__":
    sys.exit(main())
