module github.com/switchyard-dev/switchyard

go 1.26.8

require github.com/standard-webhooks/standard-webhooks/libraries v0.0.1

require gopkg.in/yaml.v3 v3.0.1 // indirect
