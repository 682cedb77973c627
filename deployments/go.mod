module realtime/deployments

go 1.26.0

require (
	github.com/gobwas/ws v1.5.0
	golang.org/x/sys v0.48.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/gobwas/httphead v0.1.0 // indirect
