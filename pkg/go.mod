module realtime/pkg

go 1.26.0

require github.com/golang-jwt/jwt/v5 v5.3.1

require (
	github.com/ThreeDotsLabs/watermill v1.5.2 // indirect
	github.com/caarlos0/env/v11 v11.4.2 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/lithammer/shortuuid/v3 v3.0.7 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
)
