// Package geo knows where Google Cloud regions and common CDN points of presence are,
// and turns distances between them into a prior for round-trip time.
//
// The built-in table holds every public Google Cloud region (by region name, e.g.
// "us-central1") and common metro and airport codes that CDNs use to name their points
// of presence (e.g. "iad", "fra", "nrt"). Coordinates are those of the data-centre town
// for regions and of the city centre for metros; at the scale this package is for
// (hundreds to thousands of kilometres) the difference does not matter.
//
// Distance is the great-circle distance; EstimatedRTT turns it into a rough round-trip
// time to use until measurements exist. A Table layers user-defined locations (for
// example from a flag parsed with ParseLocations) on top of the built-ins, and orders
// candidates by distance with Nearest.
//
// Everything here is pure and uses only the standard library. Lookups are
// case-insensitive.
package geo

import (
	"math"
	"time"
)

// Point is a position on the Earth in degrees: Lat in [-90, 90] (north positive) and Lon
// in [-180, 180] (east positive).
type Point struct{ Lat, Lon float64 }

const (
	// EarthRadiusKm is the mean radius of the Earth used by Distance.
	EarthRadiusKm = 6371.0

	// FibreKmPerMs is how far light travels in optical fibre in one millisecond, one
	// way: c divided by a refractive index of about 1.47 is roughly 204 km/ms, rounded
	// to 200.
	FibreKmPerMs = 200.0

	// RouteInflation is how much longer real network paths are than the great circle
	// (cables follow coasts and roads, traffic goes through exchange points).
	// Measurements commonly put it between 1.3 and 2; 1.5 is a middling prior.
	RouteInflation = 1.5

	// RTTFloor is added to every estimate for what does not depend on distance:
	// serialisation, switching, queueing and the hosts' own stacks. It is also the
	// estimate for two points in the same place.
	RTTFloor = time.Millisecond
)

// Distance returns the great-circle distance between a and b in kilometres, by the
// haversine formula on a sphere of radius EarthRadiusKm. It is symmetric, zero for
// equal points and at most half the Earth's circumference.
func Distance(a, b Point) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	s1, s2 := math.Sin(dLat/2), math.Sin(dLon/2)
	h := s1*s1 + math.Cos(lat1)*math.Cos(lat2)*s2*s2
	// Rounding can push h a hair above 1 for nearly antipodal points.
	h = math.Min(1, math.Max(0, h))
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(h))
}

// EstimatedRTT returns a prior round-trip time between a and b from their distance:
// there and back (2) along a path RouteInflation times the great circle at
// FibreKmPerMs, plus RTTFloor:
//
//	RTT = RTTFloor + 2 × RouteInflation × km / FibreKmPerMs ms
//
// so about 1 ms within a metro, 6 ms London–Paris, 110 ms Iowa–Belgium and 150 ms
// Iowa–Tokyo. It is a prior to rank backends before probes have measured them, not a
// prediction: real RTTs are often higher (and occasionally lower) depending on the path.
// It increases strictly with distance and is never below RTTFloor.
func EstimatedRTT(a, b Point) time.Duration {
	km := Distance(a, b)
	if math.IsNaN(km) {
		// Only out-of-domain input (NaN coordinates) gets here.
		return RTTFloor
	}
	ms := 2 * RouteInflation * km / FibreKmPerMs
	return RTTFloor + time.Duration(math.Round(ms*float64(time.Millisecond)))
}
