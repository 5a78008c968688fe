#!/bin/sh
# Installs the Debian 12 packages mipha needs to build, test and run its demo.
# The list lives in contrib/debian-packages so CI and people use the same one.
set -e
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $(cat contrib/debian-packages) >/dev/null; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $(cat contrib/debian-packages) >/dev/null
fi
