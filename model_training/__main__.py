import sys

from model_training.cli import main

sys.exit(main())
