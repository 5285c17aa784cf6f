# The Docker route (README, "Docker"): build the two images, run the central and
# N agencies with Docker Compose, follow the logs, tear down.
#   make docker-build     build lottery-server:latest and lottery-agency:latest
#   make up N=5           build, write docker-compose-dev.yaml for N agencies, start it
#   make logs             follow every container's log
#   make store            copy the central's bets.csv out of its container
#   make down             stop and remove the containers, the network and the store
# Agency i reads .data/agency-i.csv (not in the repository; see README).

N ?= 5
COMPOSE_FILE ?= docker-compose-dev.yaml
# The tags generar-compose.sh writes into the compose file.
SERVER_IMAGE := lottery-server:latest
AGENCY_IMAGE := lottery-agency:latest
COMPOSE := docker compose -f $(COMPOSE_FILE)

.DEFAULT_GOAL := help
.PHONY: help docker-build compose data-check up logs store down

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

docker-build:
	docker build -f docker/Dockerfile.server -t $(SERVER_IMAGE) .
	docker build -f docker/Dockerfile.agency -t $(AGENCY_IMAGE) .

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
	docker cp server:/var/lib/lottery/bets.csv ./bets.csv

# -v also deletes the store volume, so the next `make up` is a fresh lottery.
down:
	$(COMPOSE) down -v --remove-orphans
