package geo

import "sort"

// regions holds every public Google Cloud region, keyed by region name, at the town of
// its data centres (or the city Google names it after where the campus is not public).
// The list is that of Google Cloud's documentation as of early 2026; the newest are
// northamerica-south1, europe-north2 and asia-southeast3.
var regions = map[string]Point{
	// Americas
	"us-central1":             {41.2619, -95.8608},  // Council Bluffs, Iowa
	"us-east1":                {33.1960, -80.0131},  // Moncks Corner, South Carolina
	"us-east4":                {39.0438, -77.4874},  // Ashburn, Virginia
	"us-east5":                {39.9612, -82.9988},  // Columbus, Ohio
	"us-south1":               {32.7767, -96.7970},  // Dallas, Texas
	"us-west1":                {45.5946, -121.1787}, // The Dalles, Oregon
	"us-west2":                {34.0522, -118.2437}, // Los Angeles, California
	"us-west3":                {40.7608, -111.8910}, // Salt Lake City, Utah
	"us-west4":                {36.1699, -115.1398}, // Las Vegas, Nevada
	"northamerica-northeast1": {45.5017, -73.5673},  // Montréal, Québec
	"northamerica-northeast2": {43.6532, -79.3832},  // Toronto, Ontario
	"northamerica-south1":     {20.5888, -100.3899}, // Querétaro, Mexico
	"southamerica-east1":      {-23.5325, -46.7917}, // Osasco (São Paulo), Brazil
	"southamerica-west1":      {-33.4489, -70.6693}, // Santiago, Chile

	// Europe
	"europe-west1":      {50.4489, 3.8187},  // St. Ghislain, Belgium
	"europe-west2":      {51.5074, -0.1278}, // London, England
	"europe-west3":      {50.1109, 8.6821},  // Frankfurt, Germany
	"europe-west4":      {53.4386, 6.8336},  // Eemshaven, Netherlands
	"europe-west6":      {47.3769, 8.5417},  // Zurich, Switzerland
	"europe-west8":      {45.4642, 9.1900},  // Milan, Italy
	"europe-west9":      {48.8566, 2.3522},  // Paris, France
	"europe-west10":     {52.5200, 13.4050}, // Berlin, Germany
	"europe-west12":     {45.0703, 7.6869},  // Turin, Italy
	"europe-north1":     {60.5697, 27.1979}, // Hamina, Finland
	"europe-north2":     {59.3293, 18.0686}, // Stockholm, Sweden
	"europe-central2":   {52.2297, 21.0122}, // Warsaw, Poland
	"europe-southwest1": {40.4168, -3.7038}, // Madrid, Spain

	// Middle East and Africa
	"me-west1":      {32.0853, 34.7818},  // Tel Aviv, Israel
	"me-central1":   {25.2854, 51.5310},  // Doha, Qatar
	"me-central2":   {26.4207, 50.0888},  // Dammam, Saudi Arabia
	"africa-south1": {-26.2041, 28.0473}, // Johannesburg, South Africa

	// Asia Pacific
	"asia-east1":           {24.0518, 120.5161},  // Changhua County, Taiwan
	"asia-east2":           {22.3193, 114.1694},  // Hong Kong
	"asia-northeast1":      {35.6762, 139.6503},  // Tokyo, Japan
	"asia-northeast2":      {34.6937, 135.5023},  // Osaka, Japan
	"asia-northeast3":      {37.5665, 126.9780},  // Seoul, South Korea
	"asia-south1":          {19.0760, 72.8777},   // Mumbai, India
	"asia-south2":          {28.6139, 77.2090},   // Delhi, India
	"asia-southeast1":      {1.3404, 103.7090},   // Jurong West, Singapore
	"asia-southeast2":      {-6.2088, 106.8456},  // Jakarta, Indonesia
	"asia-southeast3":      {13.7563, 100.5018},  // Bangkok, Thailand
	"australia-southeast1": {-33.8688, 151.2093}, // Sydney, Australia
	"australia-southeast2": {-37.8136, 144.9631}, // Melbourne, Australia
}

// metros holds metro and airport codes that CDNs name their points of presence after,
// at the centre of the city they serve. Several codes may name one metro (jfk, ewr, lga
// and nyc are all New York).
var metros = map[string]Point{
	// North America
	"iad": {38.9072, -77.0369},  // Washington, D.C. (Dulles; PoPs are mostly in Ashburn)
	"dca": {38.9072, -77.0369},  // Washington, D.C.
	"was": {38.9072, -77.0369},  // Washington, D.C.
	"ord": {41.8781, -87.6298},  // Chicago
	"chi": {41.8781, -87.6298},  // Chicago
	"dfw": {32.7767, -96.7970},  // Dallas–Fort Worth
	"iah": {29.7604, -95.3698},  // Houston
	"lax": {34.0522, -118.2437}, // Los Angeles
	"sfo": {37.7749, -122.4194}, // San Francisco
	"sjc": {37.3382, -121.8863}, // San Jose
	"sea": {47.6062, -122.3321}, // Seattle
	"pdx": {45.5152, -122.6784}, // Portland, Oregon
	"jfk": {40.7128, -74.0060},  // New York
	"ewr": {40.7128, -74.0060},  // New York (Newark)
	"lga": {40.7128, -74.0060},  // New York
	"nyc": {40.7128, -74.0060},  // New York
	"bos": {42.3601, -71.0589},  // Boston
	"phl": {39.9526, -75.1652},  // Philadelphia
	"mia": {25.7617, -80.1918},  // Miami
	"atl": {33.7490, -84.3880},  // Atlanta
	"den": {39.7392, -104.9903}, // Denver
	"phx": {33.4484, -112.0740}, // Phoenix
	"slc": {40.7608, -111.8910}, // Salt Lake City
	"las": {36.1699, -115.1398}, // Las Vegas
	"msp": {44.9778, -93.2650},  // Minneapolis
	"mci": {39.0997, -94.5786},  // Kansas City
	"cmh": {39.9612, -82.9988},  // Columbus
	"yyz": {43.6532, -79.3832},  // Toronto
	"yto": {43.6532, -79.3832},  // Toronto
	"yul": {45.5017, -73.5673},  // Montréal
	"yvr": {49.2827, -123.1207}, // Vancouver
	"mex": {19.4326, -99.1332},  // Mexico City
	"qro": {20.5888, -100.3899}, // Querétaro

	// South America
	"gru": {-23.5505, -46.6333}, // São Paulo
	"sao": {-23.5505, -46.6333}, // São Paulo
	"gig": {-22.9068, -43.1729}, // Rio de Janeiro
	"scl": {-33.4489, -70.6693}, // Santiago
	"eze": {-34.6037, -58.3816}, // Buenos Aires
	"bog": {4.7110, -74.0721},   // Bogotá
	"lim": {-12.0464, -77.0428}, // Lima

	// Europe
	"lhr": {51.5074, -0.1278}, // London
	"lon": {51.5074, -0.1278}, // London
	"man": {53.4808, -2.2426}, // Manchester
	"dub": {53.3498, -6.2603}, // Dublin
	"ams": {52.3676, 4.9041},  // Amsterdam
	"bru": {50.8503, 4.3517},  // Brussels
	"fra": {50.1109, 8.6821},  // Frankfurt
	"muc": {48.1351, 11.5820}, // Munich
	"ham": {53.5511, 9.9937},  // Hamburg
	"dus": {51.2277, 6.7735},  // Düsseldorf
	"ber": {52.5200, 13.4050}, // Berlin
	"cdg": {48.8566, 2.3522},  // Paris
	"par": {48.8566, 2.3522},  // Paris
	"mrs": {43.2965, 5.3698},  // Marseille
	"mad": {40.4168, -3.7038}, // Madrid
	"bcn": {41.3874, 2.1686},  // Barcelona
	"lis": {38.7223, -9.1393}, // Lisbon
	"mxp": {45.4642, 9.1900},  // Milan
	"mil": {45.4642, 9.1900},  // Milan
	"fco": {41.9028, 12.4964}, // Rome
	"trn": {45.0703, 7.6869},  // Turin
	"zrh": {47.3769, 8.5417},  // Zurich
	"gva": {46.2044, 6.1432},  // Geneva
	"vie": {48.2082, 16.3738}, // Vienna
	"prg": {50.0755, 14.4378}, // Prague
	"waw": {52.2297, 21.0122}, // Warsaw
	"cph": {55.6761, 12.5683}, // Copenhagen
	"osl": {59.9139, 10.7522}, // Oslo
	"arn": {59.3293, 18.0686}, // Stockholm
	"sto": {59.3293, 18.0686}, // Stockholm
	"hel": {60.1699, 24.9384}, // Helsinki
	"ath": {37.9838, 23.7275}, // Athens
	"sof": {42.6977, 23.3219}, // Sofia
	"otp": {44.4268, 26.1025}, // Bucharest
	"bud": {47.4979, 19.0402}, // Budapest
	"ist": {41.0082, 28.9784}, // Istanbul

	// Middle East and Africa
	"tlv": {32.0853, 34.7818},  // Tel Aviv
	"dxb": {25.2048, 55.2708},  // Dubai
	"auh": {24.4539, 54.3773},  // Abu Dhabi
	"doh": {25.2854, 51.5310},  // Doha
	"ruh": {24.7136, 46.6753},  // Riyadh
	"dmm": {26.4207, 50.0888},  // Dammam
	"cai": {30.0444, 31.2357},  // Cairo
	"jnb": {-26.2041, 28.0473}, // Johannesburg
	"cpt": {-33.9249, 18.4241}, // Cape Town
	"los": {6.5244, 3.3792},    // Lagos
	"nbo": {-1.2921, 36.8219},  // Nairobi

	// Asia Pacific
	"bom": {19.0760, 72.8777},   // Mumbai
	"del": {28.6139, 77.2090},   // Delhi
	"maa": {13.0827, 80.2707},   // Chennai
	"blr": {12.9716, 77.5946},   // Bengaluru
	"hyd": {17.3850, 78.4867},   // Hyderabad
	"sin": {1.3521, 103.8198},   // Singapore
	"kul": {3.1390, 101.6869},   // Kuala Lumpur
	"bkk": {13.7563, 100.5018},  // Bangkok
	"cgk": {-6.2088, 106.8456},  // Jakarta
	"mnl": {14.5995, 120.9842},  // Manila
	"hkg": {22.3193, 114.1694},  // Hong Kong
	"tpe": {25.0330, 121.5654},  // Taipei
	"nrt": {35.6762, 139.6503},  // Tokyo
	"hnd": {35.6762, 139.6503},  // Tokyo
	"tyo": {35.6762, 139.6503},  // Tokyo
	"kix": {34.6937, 135.5023},  // Osaka
	"osa": {34.6937, 135.5023},  // Osaka
	"icn": {37.5665, 126.9780},  // Seoul
	"sel": {37.5665, 126.9780},  // Seoul
	"syd": {-33.8688, 151.2093}, // Sydney
	"mel": {-37.8136, 144.9631}, // Melbourne
	"bne": {-27.4698, 153.0251}, // Brisbane
	"per": {-31.9505, 115.8605}, // Perth
	"akl": {-36.8485, 174.7633}, // Auckland
}

// builtins is regions and metros together; the two never share a name (a test checks).
var builtins = func() map[string]Point {
	m := make(map[string]Point, len(regions)+len(metros))
	for name, p := range regions {
		m[name] = p
	}
	for name, p := range metros {
		m[name] = p
	}
	return m
}()

// Regions returns the names of GCP's regions, sorted.
func Regions() []string {
	names := make([]string, 0, len(regions))
	for name := range regions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
