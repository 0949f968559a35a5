"""Run one swimfd failure detector node (same program as `python -m swimfd run`).

NODE_ID=1 MEMBERS=localhost:50051,localhost:50052,localhost:50053 python pyserver/failure_detector.py
"""

import sys

from swimfd.commands.run import main

if __name__ == "__main__":
    sys.exit(main())
