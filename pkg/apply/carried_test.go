package apply

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestACarriedAnnotationIsSetByTheStatusWriteAloneOrSentApartWhenTheServerDropsIt(t *testing.T) {
	const path = "/api/v1/namespaces/app/services/api"
	tests := []struct {
		name     string
		drops    bool
		requests []string
		writes   int
	}{
		{"a server that stores metadata on status gets one request", false,
			[]string{"PATCH " + path + "/status"}, 1},
		{"a server that drops metadata on status gets the annotation on the Service next", true,
			[]string{"PATCH " + path + "/status", "PATCH " + path}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apiSnapshot()
			ws := only(diff(t, compute(t, s), s), KindChannel)
			require.Len(t, ws, 1, "the first pass writes the channel once")
			require.NotNil(t, ws[0].Carries)

			srv, client := newAPIServer(t, path)
			srv.dropStatusMetadata = tt.drops
			res, err := (&Executor{Client: client, Workers: 4}).Run(context.Background(), ws)
			require.NoError(t, err)
			assert.Equal(t, tt.requests, srv.log)
			assert.Equal(t, tt.writes, res.Writes[KindChannel])
			assert.Equal(t, map[string]string{testKeys.Ports: "http:8080->8080"}, srv.annotations[path])
		})
	}
}

func TestACarriedRemovalLandsWhenTheAnnotationIsGone(t *testing.T) {
	value := "http:8080->8080"
	tests := []struct {
		name   string
		c      Carried
		live   map[string]string
		landed bool
	}{
		{"a set annotation with the carried value landed", Carried{Annotation: "k", Value: &value}, map[string]string{"k": value}, true},
		{"a set annotation with another value did not", Carried{Annotation: "k", Value: &value}, map[string]string{"k": "old"}, false},
		{"a set annotation that is missing did not", Carried{Annotation: "k", Value: &value}, nil, false},
		{"a removal of an absent annotation landed", Carried{Annotation: "k"}, map[string]string{"other": "x"}, true},
		{"a removal of a present annotation did not", Carried{Annotation: "k"}, map[string]string{"k": value}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newChannel("app/api", nil)
			svc.Annotations = tt.live
			assert.Equal(t, tt.landed, tt.c.landedOn(svc))
		})
	}
}
