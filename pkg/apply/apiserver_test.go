package apply

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// apiServer is a minimal HTTP stand-in for kube-apiserver. The fake clientset runs
// every call under one lock, so it can show neither concurrency nor the order of
// overlapping requests; this server can: it holds each request for a delay (by
// "METHOD" or "METHOD path"), counts requests in flight, refuses a create over an
// existing object, and checks a merge patch's metadata.resourceVersion against the
// object's current version (every write moves it, status writes included).
type apiServer struct {
	mu          sync.Mutex
	objects     map[string]bool // request paths of objects that exist
	versions    map[string]int  // resourceVersion by object path
	delay       map[string]time.Duration
	inFlight    int
	maxInFlight int
	log         []string // "METHOD path" in arrival order
	// When arrived is set, each request, once counted in flight, is announced
	// on arrived and then held until the test sends on release: a barrier, so
	// a test sees exactly how many requests are in flight without a delay.
	arrived, release chan struct{}
	// hold keeps a request ("METHOD path") until its channel is closed; arrivals,
	// when set, is told "METHOD path" of every request as it comes in.
	hold     map[string]chan struct{}
	arrivals chan string
	// released is, for each held request, how many requests had arrived when it
	// was let go: a request logged at an index below that came in while it was held.
	released map[string]int
	// annotations are each object's, as patches left them; answers carry them. A
	// status patch sets them too, as a Service's does, unless dropStatusMetadata.
	annotations        map[string]map[string]string
	dropStatusMetadata bool
}

func newAPIServer(t *testing.T, existing ...string) (*apiServer, kubernetes.Interface) {
	t.Helper()
	s := &apiServer{objects: map[string]bool{}, versions: map[string]int{}, delay: map[string]time.Duration{}, hold: map[string]chan struct{}{},
		released: map[string]int{}, annotations: map[string]map[string]string{}}
	for _, p := range existing {
		s.objects[p] = true
		s.versions[p] = 20
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: -1, // no client-side throttling
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	path := r.URL.Path
	if r.Method == http.MethodPost {
		var obj struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		_ = json.Unmarshal(raw, &obj)
		path += "/" + obj.Metadata.Name
	}
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.log = append(s.log, r.Method+" "+path)
	delay := s.delay[r.Method] + s.delay[r.Method+" "+path]
	held := s.hold[r.Method+" "+path]
	delete(s.hold, r.Method+" "+path) // a second request to the object is not held
	s.mu.Unlock()
	if s.arrivals != nil {
		s.arrivals <- r.Method + " " + path
	}
	if held != nil {
		<-held
		s.mu.Lock()
		s.released[r.Method+" "+path] = len(s.log)
		s.mu.Unlock()
	}
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if s.arrived != nil {
		s.arrived <- struct{}{}
		<-s.release
	}
	time.Sleep(delay)

	s.mu.Lock()
	defer s.mu.Unlock()
	onStatus := strings.HasSuffix(path, "/status")
	path = strings.TrimSuffix(path, "/status") // the subresource writes the same object
	exists := s.objects[path]
	var precondition struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if r.Method == http.MethodPatch {
		_ = json.Unmarshal(raw, &precondition)
	}
	switch {
	case exists && precondition.Metadata.ResourceVersion != "" && precondition.Metadata.ResourceVersion != strconv.Itoa(s.versions[path]):
		status(w, http.StatusConflict, "Conflict", path+": the object has been modified")
	case r.Method == http.MethodPost && exists:
		status(w, http.StatusConflict, "AlreadyExists", path+" already exists")
	case r.Method != http.MethodPost && !exists:
		status(w, http.StatusNotFound, "NotFound", path+" not found")
	case r.Method == http.MethodDelete:
		delete(s.objects, path)
		status(w, http.StatusOK, "", "")
	default:
		s.objects[path] = true
		s.versions[path]++
		var obj map[string]any
		if r.Method == http.MethodPatch || json.Unmarshal(raw, &obj) != nil {
			obj = map[string]any{"metadata": map[string]any{}}
		}
		if r.Method == http.MethodPatch && !(onStatus && s.dropStatusMetadata) {
			s.patchAnnotations(path, raw)
		}
		meta, _ := obj["metadata"].(map[string]any)
		if a := s.annotations[path]; len(a) > 0 {
			meta["annotations"] = a
		}
		meta["name"] = path[strings.LastIndex(path, "/")+1:]
		meta["resourceVersion"] = strconv.Itoa(s.versions[path])
		w.Header().Set("Content-Type", "application/json")
		code := http.StatusOK
		if r.Method == http.MethodPost {
			code = http.StatusCreated
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(obj)
	}
}

func status(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	st := "Success"
	if code >= 300 {
		st = "Failure"
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": st, "reason": reason, "message": message, "code": code})
}

func (s *apiServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// patchAnnotations applies a merge or strategic merge patch's
// metadata.annotations to the object at path (null deletes a key).
func (s *apiServer) patchAnnotations(path string, raw []byte) {
	var patch struct {
		Metadata struct {
			Annotations map[string]*string `json:"annotations"`
		} `json:"metadata"`
	}
	if json.Unmarshal(raw, &patch) != nil || len(patch.Metadata.Annotations) == 0 {
		return
	}
	a := s.annotations[path]
	if a == nil {
		a = map[string]string{}
		s.annotations[path] = a
	}
	for k, v := range patch.Metadata.Annotations {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = *v
		}
	}
}
