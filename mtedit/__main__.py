import sys

from mtedit.cli import main

sys.exit(main())
