"""Top-K recommendations from a checkpoint: `python recommend.py saved/BERT4Rec-....pth --user 196 -k 10`."""

import sys

from recbole_bert4rec.inference_cli import main

if __name__ == "__main__":
    sys.exit(main())
