"""swimfd's network lab: every node its own network namespace, real partitions and real packet loss (issue 11)."""
