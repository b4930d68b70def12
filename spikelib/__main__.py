import sys

from spikelib.cli import main

sys.exit(main())
