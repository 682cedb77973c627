// Package deployments holds what runs the realtime service outside `make
// run`: the local distributed stack (stack.sh, brokers.sh), the compose
// stack (../docker-compose.yml, docker/Dockerfile, nginx/), and
// cmd/healthcheck, the probe of the container images.
//
// There is no Docker engine where this was written, so compose_test.go
// checks the container files statically (services, ports, environment,
// health checks, start order, Dockerfile and nginx configuration), and runs
// `nginx -t` on both nginx configurations when nginx is installed.
package deployments
