module github.com/edgeclass/edgeclass

go 1.26.8

require golang.org/x/image v0.48.0

require go.yaml.in/yaml/v3 v3.0.6 // indirect
