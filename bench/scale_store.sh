#!/bin/bash
# Scale of the credential store (see bench/README.md, "Scale of the
# credential store"): nginx -t against the number of token credentials,
# and Redis commands of a node at rest; the same launcher as the others.

exec bash "$(dirname "$0")/run.sh" scale_store.py
