import sys

from swimfd.cli import main

sys.exit(main())
