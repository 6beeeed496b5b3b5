module github.com/cloudauth-go/cloudauth

go 1.22

require (
	github.com/stretchr/testify v1.12.1
	gopkg.in/ini.v1 v1.68.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
