package main

import (
	"reflect"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		members []string
		wantErr bool
	}{
		{"own address skipped", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--members", "127.0.0.1:7001, 127.0.0.1:7002,"},
			[]string{"127.0.0.1:7002"}, false},
		{"no members starts alone", []string{"--id", "1", "--bind", "127.0.0.1:7001"}, nil, false},
		{"missing id", []string{"--bind", "127.0.0.1:7001"}, nil, true},
		{"bad bind", []string{"--id", "1", "--bind", "7001"}, nil, true},
		{"bad member", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--members", "nope"}, nil, true},
		{"loss above one", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--loss", "1.5"}, nil, true},
		{"stream loss above one", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--stream-loss", "2"}, nil, true},
		{"negative loss", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--loss", "-0.1"}, nil, true},
		{"zero stats interval", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--stats-interval", "0s"}, nil, true},
		{"keyring key", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--keyring-key", "000102030405060708090a0b0c0d0e0f"}, nil, false},
		{"keyring key not hex", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--keyring-key", "zz"}, nil, true},
		{"keyring key wrong size", []string{"--id", "1", "--bind", "127.0.0.1:7001", "--keyring-key", "0001"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(o.members, tc.members) {
				t.Fatalf("members = %v, want %v", o.members, tc.members)
			}
		})
	}
}
