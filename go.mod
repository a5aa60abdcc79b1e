module github.com/edgeclass/edgeclass

go 1.26.8

require golang.org/x/image v0.48.0

require gocv.io/x/gocv v0.32.0
