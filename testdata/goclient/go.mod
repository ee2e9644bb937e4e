module connreuse/testdata/goclient

go 1.19
