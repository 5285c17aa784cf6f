# The Docker route (README, "Docker"): build the two images, run the central and
# N agencies with Docker Compose (or Podman), follow the logs, tear down.
#   make docker-build     build lottery-server:latest and lottery-agency:latest
#   make up N=5           build, write docker-compose-dev.yaml for N agencies, start it
#   make logs             follow every container's log
#   make store            copy the central's bets.csv out of its container
#   make down             stop and remove the containers, the network and the store
#   make docker-e2e       build, run 5 agencies plaintext and over TLS, check (podman)
# ENGINE=podman runs all of them with podman and podman-compose.
# Agency i reads .data/agency-i.csv (not in the repository; see README).

N ?= 5
ENGINE ?= docker
COMPOSE_FILE ?= docker-compose-dev.yaml
# podman-compose 1.0 (Debian bookworm's) knows no --remove-orphans.
ifeq ($(ENGINE),podman)
COMPOSE_COMMAND ?= podman-compose
DOWN_FLAGS := -v
else
COMPOSE_COMMAND ?= docker compose
DOWN_FLAGS := -v --remove-orphans
endif
# The project's name, given rather than taken from the directory's, so that the
# volume is lottery_store whichever compose tool runs it.
COMPOSE := $(COMPOSE_COMMAND) -p lottery -f $(COMPOSE_FILE)

.DEFAULT_GOAL := help
.PHONY: help docker-build compose data-check up logs store down docker-e2e

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

docker-build:
	CONTAINER_ENGINE=$(ENGINE) scripts/docker-build.sh

compose:
	./generar-compose.sh $(COMPOSE_FILE) $(N)

# Before the (long) image build; `compose` has already rejected an N that is not a positive integer.
data-check: compose
	@for i in $$(seq 1 $(N)); do \
		test -f .data/agency-$$i.csv || { echo "missing .data/agency-$$i.csv: see README, Docker" >&2; exit 1; }; \
	done

up: data-check docker-build
	$(COMPOSE) up -d

logs:
	$(COMPOSE) logs -f

# Works on the stopped container too (the central exits once every agency is served).
store:
	$(ENGINE) cp server:/var/lib/lottery/bets.csv ./bets.csv

# -v also deletes the store volume, so the next `make up` is a fresh lottery.
# podman-compose 1.0 (Debian bookworm's) leaves the project's network behind.
down:
	$(COMPOSE) down $(DOWN_FLAGS)
ifeq ($(ENGINE),podman)
	podman network exists lottery_net && podman network rm lottery_net || true
endif

docker-e2e:
	CONTAINER_ENGINE=$(ENGINE) scripts/docker-e2e.sh
