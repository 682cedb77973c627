module realtime/services/chat

go 1.26.0

require (
	realtime/contracts v0.0.0
	realtime/pkg v0.0.0
)

replace (
	realtime/contracts => ../../contracts
	realtime/pkg => ../../pkg
)
