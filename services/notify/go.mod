module realtime/services/notify

go 1.26.0

require (
	github.com/ThreeDotsLabs/watermill v1.5.2
	github.com/caarlos0/env/v11 v11.4.2
	realtime/contracts v0.0.0
	realtime/pkg v0.0.0
)

require (
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/lithammer/shortuuid/v3 v3.0.7 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/sony/gobreaker v1.0.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace (
	realtime/contracts => ../../contracts
	realtime/pkg => ../../pkg
)
