import sys

from swimfd.commands.main import main

sys.exit(main())
