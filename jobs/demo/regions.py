"""The demo world's fixed geography: regions, their cities and competitions.

Static on purpose: the seed decides clubs, strengths and fixtures, not which
countries exist. Cities are distinct across regions, so club names (city plus
a local naming pattern) are unique worldwide as well as within a region.
"""

from __future__ import annotations

from dataclasses import dataclass

MEN, WOMEN = 0, 1

# Club naming patterns per football culture ("{}" is the city).
_EN = ("{} United", "{} City", "{} Rovers", "{} Athletic", "{} Town", "{} Albion", "{} FC")
_ES = ("Real {}", "Atlético {}", "Deportivo {}", "CD {}", "Racing {}", "Unión {}", "{} CF")
_PT = ("{} FC", "Sporting {}", "Atlético {}", "Desportivo {}", "União {}", "Vitória {}")
_DE = ("FC {}", "SV {}", "VfB {}", "TSV {}", "Borussia {}", "Eintracht {}", "Fortuna {}")
_IT = ("AC {}", "US {}", "AS {}", "{} Calcio", "SS {}", "Virtus {}")
_FR = ("FC {}", "AS {}", "Olympique {}", "Stade {}", "Racing {}", "SC {}", "US {}")
_NL = ("FC {}", "SC {}", "Sparta {}", "Vitesse {}", "Quick {}", "VV {}")
_NORDIC = ("{} IF", "{} FF", "{} BK", "{} IK", "IFK {}", "{} FK")
_EAST = ("Dinamo {}", "Lokomotiv {}", "Slavia {}", "Sparta {}", "FK {}", "Olimpija {}")
_INTL = ("{} FC", "{} United", "{} City", "Sporting {}", "Athletic {}", "Dynamo {}")


@dataclass(frozen=True, slots=True)
class Competition:
    """A league of `teams` clubs (an even number, for round-robin fixtures)."""

    name: str
    sex: int
    teams: int


@dataclass(frozen=True, slots=True)
class Region:
    """A country: its cities, its club naming patterns and its competitions."""

    name: str
    cities: tuple[str, ...]
    patterns: tuple[str, ...]
    women_suffix: str
    competitions: tuple[Competition, ...]


def _r(
    name: str, cities: str, patterns: tuple[str, ...], women: str, *comps: Competition
) -> Region:
    return Region(name, tuple(c.strip() for c in cities.split(",")), patterns, women, comps)


def _m(name: str, teams: int) -> Competition:
    return Competition(name, MEN, teams)


def _w(name: str, teams: int) -> Competition:
    return Competition(name, WOMEN, teams)


REGIONS: tuple[Region, ...] = (
    _r(
        "England",
        "London, Manchester, Liverpool, Leeds, Sheffield, Bristol, Nottingham, Leicester, "
        "Southampton, Brighton, Norwich, Coventry",
        _EN,
        "Women",
        _m("Premier League", 20),
        _m("Championship", 18),
        _w("Women's Super League", 12),
    ),
    _r(
        "Spain",
        "Madrid, Barcelona, Sevilla, Valencia, Bilbao, Zaragoza, Málaga, Vigo, Gijón, Cádiz, "
        "Valladolid, Pamplona",
        _ES,
        "Femenino",
        _m("LaLiga", 20),
        _m("Segunda División", 18),
        _w("Liga F", 16),
    ),
    _r(
        "Italy",
        "Milano, Torino, Roma, Napoli, Firenze, Genova, Bologna, Verona, Bergamo, Udine",
        _IT,
        "Women",
        _m("Serie A", 20),
        _w("Serie A Women", 10),
    ),
    _r(
        "Germany",
        "München, Dortmund, Hamburg, Bremen, Köln, Stuttgart, Frankfurt, Leipzig, Mainz, "
        "Freiburg, Hannover, Nürnberg",
        _DE,
        "Frauen",
        _m("Bundesliga", 18),
        _m("2. Bundesliga", 18),
        _w("Frauen-Bundesliga", 12),
    ),
    _r(
        "France",
        "Paris, Marseille, Lyon, Lille, Nantes, Bordeaux, Rennes, Nice, Toulouse, Montpellier, "
        "Strasbourg, Reims",
        _FR,
        "Féminines",
        _m("Ligue 1", 18),
        _m("Ligue 2", 18),
        _w("Première Ligue", 12),
    ),
    _r(
        "Brazil",
        "Rio de Janeiro, São Paulo, Belo Horizonte, Porto Alegre, Salvador, Recife, Curitiba, "
        "Fortaleza, Goiânia, Campinas",
        _PT,
        "Feminino",
        _m("Brasileirão Série A", 20),
        _w("Brasileirão Feminino", 16),
    ),
    _r(
        "Argentina",
        "Buenos Aires, Rosario, La Plata, Mendoza, Avellaneda, Tucumán, Santa Fe, Mar del Plata",
        _ES,
        "Femenino",
        _m("Liga Profesional", 20),
    ),
    _r(
        "Portugal",
        "Lisboa, Porto, Braga, Guimarães, Coimbra, Funchal, Faro, Setúbal",
        _PT,
        "Feminino",
        _m("Primeira Liga", 18),
        _w("Liga BPI", 10),
    ),
    _r(
        "Netherlands",
        "Amsterdam, Rotterdam, Eindhoven, Utrecht, Groningen, Alkmaar, Arnhem, Enschede",
        _NL,
        "Vrouwen",
        _m("Eredivisie", 18),
        _w("Vrouwen Eredivisie", 10),
    ),
    _r(
        "Belgium",
        "Brugge, Antwerpen, Gent, Liège, Charleroi, Genk, Mechelen, Leuven",
        _FR,
        "Women",
        _m("Pro League", 16),
    ),
    _r(
        "Scotland",
        "Glasgow, Edinburgh, Aberdeen, Dundee, Kilmarnock, Motherwell, Paisley, Dunfermline",
        _EN,
        "Women",
        _m("Premiership", 12),
        _w("SWPL 1", 10),
    ),
    _r(
        "Turkey",
        "İstanbul, Ankara, İzmir, Trabzon, Bursa, Antalya, Konya, Kayseri",
        _INTL,
        "Kadın",  # noqa: RUF001 (Turkish for "women")
        _m("Süper Lig", 18),
    ),
    _r(
        "USA",
        "Seattle, Portland, Los Angeles, Chicago, Houston, Atlanta, Columbus, Denver, "
        "Philadelphia, Kansas City",
        _INTL,
        "Women",
        _m("MLS", 20),
        _w("NWSL", 14),
    ),
    _r(
        "Mexico",
        "Monterrey, Guadalajara, Puebla, Toluca, Tijuana, Querétaro, Pachuca, Torreón",
        _ES,
        "Femenil",
        _m("Liga MX", 18),
        _w("Liga MX Femenil", 18),
    ),
    _r(
        "Japan",
        "Tokyo, Yokohama, Osaka, Kobe, Nagoya, Kawasaki, Sapporo, Hiroshima, Kashima",
        _INTL,
        "Ladies",
        _m("J1 League", 20),
        _w("WE League", 12),
    ),
    _r(
        "South Korea",
        "Seoul, Busan, Incheon, Daegu, Ulsan, Jeonju, Pohang, Suwon",
        _INTL,
        "Women",
        _m("K League 1", 12),
    ),
    _r(
        "Australia",
        "Sydney, Melbourne, Brisbane, Adelaide, Perth, Newcastle, Gold Coast, Canberra",
        _INTL,
        "Women",
        _m("A-League Men", 12),
        _w("A-League Women", 12),
    ),
    _r(
        "Sweden",
        "Stockholm, Göteborg, Malmö, Norrköping, Helsingborg, Kalmar, Borås, Örebro",
        _NORDIC,
        "Dam",
        _m("Allsvenskan", 16),
        _w("Damallsvenskan", 14),
    ),
    _r(
        "Norway",
        "Oslo, Bergen, Trondheim, Stavanger, Bodø, Tromsø, Molde, Kristiansand",
        _NORDIC,
        "Kvinner",
        _m("Eliteserien", 16),
        _w("Toppserien", 10),
    ),
    _r(
        "Denmark",
        "København, Aarhus, Odense, Aalborg, Brøndby, Randers, Silkeborg, Viborg",
        _NORDIC,
        "Kvinder",
        _m("Superliga", 12),
    ),
    _r(
        "Switzerland",
        "Zürich, Basel, Bern, Genève, Lausanne, Luzern, St. Gallen, Lugano",
        _DE,
        "Frauen",
        _m("Super League", 12),
    ),
    _r(
        "Austria",
        "Wien, Salzburg, Graz, Linz, Innsbruck, Klagenfurt, Altach, Hartberg",
        _DE,
        "Frauen",
        _m("Bundesliga", 12),
    ),
    _r(
        "Greece",
        "Athína, Thessaloníki, Piraeus, Patra, Irakleio, Larisa, Volos, Tripoli",
        _INTL,
        "Women",
        _m("Super League", 14),
    ),
    _r(
        "Poland",
        "Warszawa, Kraków, Poznań, Wrocław, Gdańsk, Łódź, Szczecin, Białystok",
        _EAST,
        "Kobiety",
        _m("Ekstraklasa", 18),
    ),
    _r(
        "Czech Republic",
        "Praha, Brno, Ostrava, Plzeň, Olomouc, Liberec, Jablonec, Zlín",
        _EAST,
        "Ženy",
        _m("Chance Liga", 16),
    ),
    _r(
        "Croatia",
        "Zagreb, Split, Rijeka, Osijek, Varaždin, Pula, Zadar, Šibenik",
        _EAST,
        "Žene",
        _m("HNL", 10),
    ),
    _r(
        "Chile",
        "Santiago, Valparaíso, Viña del Mar, Concepción, Antofagasta, Temuco, Rancagua, Iquique",
        _ES,
        "Femenino",
        _m("Primera División", 16),
    ),
    _r(
        "Colombia",
        "Bogotá, Medellín, Cali, Barranquilla, Bucaramanga, Manizales, Pereira, Ibagué",
        _ES,
        "Femenino",
        _m("Primera A", 20),
        _w("Liga Femenina", 16),
    ),
    _r(
        "Uruguay",
        "Montevideo, Paysandú, Salto, Rivera, Maldonado, Tacuarembó, Colonia, Florida",
        _ES,
        "Femenino",
        _m("Primera División", 16),
    ),
    _r(
        "Saudi Arabia",
        "Riyadh, Jeddah, Dammam, Mecca, Medina, Abha, Buraidah, Al-Khobar",
        _INTL,
        "Women",
        _m("Saudi Pro League", 18),
    ),
)
