"""`python -m swimfd bench`: swimfd's detectors against hashicorp/memberlist on real loopback clusters."""
