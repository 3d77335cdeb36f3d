module logstash-mesos/testdata/beats/client

go 1.17

require github.com/elastic/go-lumber v0.1.1

require github.com/klauspost/compress v1.11.2 // indirect
