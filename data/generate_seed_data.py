# ruff: noqa: E501  (the catalogue is a table: one product per line)
"""Generate the sample data set (customers, products, orders) kept in `data/*.json`.

Deterministic: a fixed random seed and a fixed "today" (TODAY below), so running it again writes
byte-identical files. `python app.py seed` loads the JSON files, not this script.

    .venv/bin/python data/generate_seed_data.py

Fixed records for demos and tests (documented in bench/README.md and the tests):
  * Rahul Sharma, +919876543210, pincode 110017 (Delhi), Hinglish:
      ORD-482913 shipped · ORD-482914 delivered · ORD-482915 out_for_delivery ·
      ORD-482916 cancelled (UPI, refund processed) · ORD-482917 placed (COD)
  * Priya Nair, +919812345678, pincode 560034 (Bengaluru), English:
      ORD-731205 returned (card, refund pending) · ORD-731206 packed (UPI)
  * PRS-CKR-5L (Prestige pressure cooker) is out of stock everywhere; HWK-CKR-5L (Hawkins) is in stock.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent
TODAY = date(2026, 11, 22)
SEED = 20261122

WAREHOUSES = ("GGN", "BHW", "HSK", "KOL")  # Gurugram, Bhiwandi (Mumbai), Hoskote (Bengaluru), Kolkata

# pincode, city, region (the warehouse that serves it fastest)
PINCODES: list[tuple[str, str, str]] = [
    ("110001", "New Delhi", "GGN"),
    ("110017", "New Delhi", "GGN"),
    ("110085", "Delhi", "GGN"),
    ("122001", "Gurugram", "GGN"),
    ("201301", "Noida", "GGN"),
    ("302001", "Jaipur", "GGN"),
    ("226001", "Lucknow", "GGN"),
    ("141001", "Ludhiana", "GGN"),
    ("160017", "Chandigarh", "GGN"),
    ("208001", "Kanpur", "GGN"),
    ("400001", "Mumbai", "BHW"),
    ("400076", "Mumbai", "BHW"),
    ("411001", "Pune", "BHW"),
    ("380009", "Ahmedabad", "BHW"),
    ("395003", "Surat", "BHW"),
    ("452001", "Indore", "BHW"),
    ("440001", "Nagpur", "BHW"),
    ("560001", "Bengaluru", "HSK"),
    ("560034", "Bengaluru", "HSK"),
    ("600017", "Chennai", "HSK"),
    ("500081", "Hyderabad", "HSK"),
    ("682016", "Kochi", "HSK"),
    ("641001", "Coimbatore", "HSK"),
    ("700019", "Kolkata", "KOL"),
    ("800001", "Patna", "KOL"),
    ("751001", "Bhubaneswar", "KOL"),
    ("781001", "Guwahati", "KOL"),
    ("834001", "Ranchi", "KOL"),
    ("744101", "Port Blair", "REMOTE"),
    ("194101", "Leh", "REMOTE"),
]
METRO_SAME_DAY = {"110017", "110001", "400076", "560034", "560001"}

# sku, name, category, subcategory (what counts as an alternative), brand, price (INR),
# Hinglish / spoken aliases, Devanagari aliases
# fmt: off
PRODUCTS: list[tuple[str, str, str, str, str, float, list[str], list[str]]] = [
    # mobiles
    ("RDM-N13-128", "Redmi Note 13 5G 128GB", "mobiles", "smartphone", "Xiaomi", 17999, ["redmi note terah", "redmi phone"], ["रेडमी नोट 13", "रेडमी फोन"]),
    ("SAM-M15-128", "Samsung Galaxy M15 5G 128GB", "mobiles", "smartphone", "Samsung", 13499, ["samsung m pandrah", "samsung galaxy phone"], ["सैमसंग गैलेक्सी एम15", "सैमसंग फोन"]),
    ("IPH-15-128", "Apple iPhone 15 128GB", "mobiles", "smartphone", "Apple", 69900, ["iphone pandrah", "aaifon 15"], ["आईफोन 15", "एप्पल आईफोन"]),
    ("RLM-NZ7-128", "realme Narzo 70 5G 128GB", "mobiles", "smartphone", "realme", 14999, ["realme narzo", "narjo phone"], ["रियलमी नार्ज़ो", "रियलमी फोन"]),
    ("NOK-105-DS", "Nokia 105 Dual SIM Keypad Phone", "mobiles", "feature_phone", "Nokia", 1299, ["nokia keypad wala phone", "button wala phone"], ["नोकिया कीपैड फोन", "बटन वाला फोन"]),
    # audio
    ("BOAT-AD141", "boAt Airdopes 141 Wireless Earbuds", "audio", "wireless_earphones", "boAt", 1299, ["boat earbuds", "airdopes", "kaan ke earphone"], ["बोट एयरडोप्स", "ईयरबड्स"]),
    ("BOAT-RK255", "boAt Rockerz 255 Pro+ Neckband", "audio", "wireless_earphones", "boAt", 1499, ["boat neckband", "gale wala earphone"], ["बोट नेकबैंड", "नेकबैंड"]),
    ("JBL-GO3", "JBL Go 3 Bluetooth Speaker", "audio", "speaker", "JBL", 2999, ["jbl speaker", "chhota speaker"], ["जेबीएल स्पीकर", "ब्लूटूथ स्पीकर"]),
    ("NOISE-BUDS-VS104", "Noise Buds VS104 Earbuds", "audio", "wireless_earphones", "Noise", 999, ["noise buds", "noise earbuds"], ["नॉइज़ बड्स"]),
    ("SONY-WHCH520", "Sony WH-CH520 Wireless Headphones", "audio", "headphones", "Sony", 4490, ["sony headphone", "sar wala headphone"], ["सोनी हेडफोन", "हेडफ़ोन"]),
    # electronics
    ("MI-PB-20K", "Xiaomi 20000mAh Power Bank", "electronics", "power_bank", "Xiaomi", 2199, ["power bank", "mi powerbank", "charger bank"], ["पावर बैंक"]),
    ("SNDK-64-PD", "SanDisk 64GB Pen Drive", "electronics", "pen_drive", "SanDisk", 549, ["pen drive", "pendrive", "usb drive"], ["पेन ड्राइव"]),
    ("FBT-CHG3", "Fire-Boltt Ninja Call Pro Smartwatch", "electronics", "smartwatch", "Fire-Boltt", 1799, ["smart watch", "fire bolt ghadi", "smartwatch"], ["स्मार्ट वॉच", "स्मार्ट घड़ी"]),
    ("LOG-M235", "Logitech M235 Wireless Mouse", "electronics", "mouse", "Logitech", 795, ["wireless mouse", "computer mouse", "maus"], ["माउस", "वायरलेस माउस"]),
    ("HP-15-I5", "HP 15s Laptop Intel Core i5 16GB 512GB", "electronics", "laptop", "HP", 58990, ["hp laptop", "laptop"], ["एचपी लैपटॉप", "लैपटॉप"]),
    ("MI-TV-43", "Xiaomi Smart TV A 43 inch 4K", "electronics", "television", "Xiaomi", 24999, ["mi tv", "smart tv", "television"], ["स्मार्ट टीवी", "टीवी"]),
    # kitchen
    ("PRS-CKR-5L", "Prestige Popular Pressure Cooker 5 Litre", "kitchen", "pressure_cooker", "Prestige", 1899, ["prestige cooker", "pressure kukar", "prestij cooker"], ["प्रेस्टीज कुकर", "प्रेशर कुकर"]),
    ("HWK-CKR-5L", "Hawkins Classic Pressure Cooker 5 Litre", "kitchen", "pressure_cooker", "Hawkins", 2150, ["hawkins cooker", "hokins kukar"], ["हॉकिन्स कुकर", "कुकर"]),
    ("PIG-TAWA-28", "Pigeon Non-Stick Tawa 28 cm", "kitchen", "tawa", "Pigeon", 649, ["tawa", "non stick tawa", "roti tawa"], ["तवा", "नॉन स्टिक तवा"]),
    ("MLT-KDH-3", "Milton Kadhai Stainless Steel 3 Litre", "kitchen", "kadhai", "Milton", 1190, ["kadhai", "kadai", "steel kadhai"], ["कड़ाही", "कढ़ाई"]),
    ("CELLO-BTL-1L", "Cello H2O Water Bottle 1 Litre Set of 4", "kitchen", "water_bottle", "Cello", 399, ["paani ki bottle", "water bottle", "bottle"], ["पानी की बोतल", "बोतल"]),
    ("MLT-CASS-1500", "Milton Casserole Hot Pot 1500 ml", "kitchen", "casserole", "Milton", 699, ["casserole", "roti dabba", "hot case"], ["कैसरोल", "रोटी का डिब्बा"]),
    ("BRTN-STL-SET", "Vinod Stainless Steel Dinner Set 24 Pieces", "kitchen", "dinner_set", "Vinod", 2499, ["steel ke bartan", "dinner set", "bartan set"], ["स्टील के बर्तन", "डिनर सेट"]),
    # appliances
    ("BJJ-MXR-750", "Bajaj Rex 750W Mixer Grinder", "appliances", "mixer_grinder", "Bajaj", 3299, ["mixer grinder", "mixie", "mixer"], ["मिक्सर ग्राइंडर", "मिक्सी"]),
    ("PHL-MXR-750", "Philips HL7756 750W Mixer Grinder", "appliances", "mixer_grinder", "Philips", 3999, ["philips mixer", "philips mixie"], ["फिलिप्स मिक्सर"]),
    ("PIG-KTL-15", "Pigeon Electric Kettle 1.5 Litre", "appliances", "kettle", "Pigeon", 649, ["electric kettle", "paani garam karne wali ketli", "ketli"], ["इलेक्ट्रिक केतली", "केतली"]),
    ("BJJ-IRN-1000", "Bajaj DX-6 1000W Dry Iron", "appliances", "iron", "Bajaj", 749, ["press", "istri", "iron"], ["प्रेस", "इस्त्री"]),
    ("HVL-FAN-1200", "Havells 1200mm Ceiling Fan", "appliances", "ceiling_fan", "Havells", 2399, ["pankha", "ceiling fan", "fan"], ["पंखा", "छत का पंखा"]),
    ("CRM-FAN-1200", "Crompton Energion 1200mm BLDC Ceiling Fan", "appliances", "ceiling_fan", "Crompton", 3299, ["crompton pankha", "bldc fan"], ["क्रॉम्पटन पंखा"]),
    ("KNT-RO-8L", "Kent Grand 8 Litre RO Water Purifier", "appliances", "water_purifier", "Kent", 15499, ["ro purifier", "water purifier", "paani saaf karne wala"], ["आरओ प्यूरीफायर", "वाटर प्यूरीफायर"]),
    ("SYM-COOL-50", "Symphony Sumo 50 Litre Air Cooler", "appliances", "air_cooler", "Symphony", 9499, ["cooler", "air cooler", "kular"], ["कूलर", "एयर कूलर"]),
    ("BJJ-COOL-23", "Bajaj Frio 23 Litre Personal Air Cooler", "appliances", "air_cooler", "Bajaj", 5999, ["chhota cooler", "bajaj cooler", "personal cooler"], ["बजाज कूलर", "छोटा कूलर"]),
    # home
    ("BMB-BDSHT-DBL", "Bombay Dyeing Double Bedsheet with 2 Pillow Covers", "home", "bedsheet", "Bombay Dyeing", 899, ["chadar", "bedsheet", "bed ki chadar"], ["चादर", "बेडशीट"]),
    ("SLP-PLW-2", "Sleepwell Fibre Pillow Set of 2", "home", "pillow", "Sleepwell", 799, ["takiya", "pillow", "takia"], ["तकिया", "तकिये"]),
    ("JPR-RZAI-SGL", "Jaipuri Cotton Razai Single", "home", "quilt", "Rajasthani Craft", 1299, ["razai", "rajai", "jaipuri razai", "quilt"], ["रजाई", "जयपुरी रजाई"]),
    ("PRS-MOP-SPIN", "Prestige Spin Mop with Bucket", "home", "mop", "Prestige", 1299, ["pocha", "mop", "pochha bucket"], ["पोछा", "मॉप"]),
    ("SYSKA-LED-9W", "Syska 9W LED Bulb Pack of 4", "home", "led_bulb", "Syska", 349, ["bulb", "led bulb", "batti"], ["बल्ब", "एलईडी बल्ब"]),
    # fashion
    ("FBI-KRT-M", "Fabindia Cotton Kurta Men", "fashion", "kurta", "Fabindia", 1490, ["kurta", "gents kurta", "cotton kurta"], ["कुर्ता", "कॉटन कुर्ता"]),
    ("BIBA-KRT-W", "Biba Women Printed Kurti", "fashion", "kurti", "Biba", 1199, ["kurti", "ladies kurti"], ["कुर्ती", "लेडीज कुर्ती"]),
    ("SAREE-BNR-SLK", "Banarasi Silk Saree with Blouse Piece", "fashion", "saree", "Varanasi Weaves", 2799, ["saree", "sari", "banarasi saree"], ["साड़ी", "बनारसी साड़ी"]),
    ("LVS-JNS-511", "Levi's 511 Slim Fit Jeans", "fashion", "jeans", "Levi's", 2599, ["jeans", "levis jeans", "jeens"], ["जींस", "लीवाइस जींस"]),
    ("ALN-SHRT-F", "Allen Solly Formal Shirt", "fashion", "shirt", "Allen Solly", 1399, ["formal shirt", "office shirt", "kameez"], ["शर्ट", "फॉर्मल शर्ट"]),
    # footwear
    ("BATA-CHPL", "Bata Men Chappal", "footwear", "chappal", "Bata", 499, ["chappal", "chappals", "slipper"], ["चप्पल"]),
    ("SPK-SHOE-RUN", "Sparx Men Running Shoes", "footwear", "shoes", "Sparx", 1599, ["running shoes", "joote", "sports shoe"], ["जूते", "स्पोर्ट्स शूज़"]),
    ("CROCS-CLOG", "Crocs Classic Clog", "footwear", "clogs", "Crocs", 3995, ["crocs", "klog"], ["क्रॉक्स"]),
    # beauty
    ("LKM-KAJAL", "Lakme Eyeconic Kajal", "beauty", "kajal", "Lakme", 225, ["kajal", "kaajal", "lakme kajal"], ["काजल"]),
    ("HML-FW-150", "Himalaya Neem Face Wash 150 ml", "beauty", "face_wash", "Himalaya", 199, ["face wash", "neem face wash"], ["फेस वॉश", "नीम फेस वॉश"]),
    # personal_care
    ("PHL-TRM-BT", "Philips BT1232 Beard Trimmer", "personal_care", "trimmer", "Philips", 1349, ["trimmer", "dadhi trimmer", "beard trimmer"], ["ट्रिमर", "दाढ़ी ट्रिमर"]),
    ("PAR-OIL-500", "Parachute Coconut Oil 500 ml", "personal_care", "hair_oil", "Parachute", 215, ["nariyal tel", "coconut oil", "parachute tel"], ["नारियल तेल", "पैराशूट तेल"]),
    # grocery
    ("AAS-ATTA-10", "Aashirvaad Shudh Chakki Atta 10 kg", "grocery", "atta", "Aashirvaad", 479, ["atta", "gehun ka atta", "aata"], ["आटा", "गेहूं का आटा"]),
    ("IG-BASMATI-5", "India Gate Basmati Rice 5 kg", "grocery", "rice", "India Gate", 649, ["basmati chawal", "chawal", "rice"], ["बासमती चावल", "चावल"]),
    ("TATA-SALT-1", "Tata Salt 1 kg", "grocery", "salt", "Tata", 28, ["namak", "tata namak", "salt"], ["नमक", "टाटा नमक"]),
    ("FRT-OIL-1L", "Fortune Sunflower Oil 1 Litre", "grocery", "cooking_oil", "Fortune", 165, ["khane ka tel", "sunflower oil", "refined tel"], ["खाने का तेल", "सूरजमुखी तेल"]),
    ("TATA-TEA-1", "Tata Tea Premium 1 kg", "grocery", "tea", "Tata", 540, ["chai patti", "tata chai", "chai"], ["चाय पत्ती", "चाय"]),
    ("MDH-GM-100", "MDH Garam Masala 100 g", "grocery", "masala", "MDH", 92, ["garam masala", "masala"], ["गरम मसाला", "मसाला"]),
    # books
    ("BK-NCERT-10", "NCERT Mathematics Textbook Class 10", "books", "textbook", "NCERT", 185, ["ncert maths book", "dasvi ki kitab", "maths ki kitab"], ["एनसीईआरटी गणित", "किताब"]),
    ("CLS-NB-6", "Classmate Notebooks Pack of 6", "books", "notebook", "Classmate", 330, ["copy", "notebook", "classmate copy"], ["कॉपी", "नोटबुक"]),
    # toys
    ("FNS-LUDO", "Funskool Ludo and Snakes & Ladders Board", "toys", "board_game", "Funskool", 299, ["ludo", "saanp seedhi", "board game"], ["लूडो", "सांप सीढ़ी"]),
    # sports
    ("SG-BAT-KW", "SG Kashmir Willow Cricket Bat", "sports", "cricket_bat", "SG", 1599, ["cricket bat", "balla", "bat"], ["बल्ला", "क्रिकेट बैट"]),
    ("NIV-YOGA-6", "Nivia Yoga Mat 6 mm", "sports", "yoga_mat", "Nivia", 599, ["yoga mat", "chatai", "exercise mat"], ["योगा मैट", "चटाई"]),
    ("HERO-CYC-26", "Hero Sprint 26T Bicycle", "sports", "bicycle", "Hero", 7499, ["cycle", "saikil", "bicycle"], ["साइकिल"]),
]
# fmt: on
OUT_OF_STOCK = {"PRS-CKR-5L", "IPH-15-128", "SYM-COOL-50"}
LOW_STOCK = {"HVL-FAN-1200": 2, "SAREE-BNR-SLK": 1}
BULKY = {"MI-TV-43", "KNT-RO-8L", "SYM-COOL-50", "HERO-CYC-26", "HP-15-I5"}  # no remote delivery

# fmt: off
FIRST_NAMES = [
    "Aarav", "Vivaan", "Aditya", "Arjun", "Sai", "Ishaan", "Rohan", "Karan", "Vikram", "Manoj",
    "Suresh", "Ramesh", "Imran", "Faizan", "Gurpreet", "Harpreet", "Anil", "Deepak", "Nitin", "Sandeep",
    "Ananya", "Diya", "Saanvi", "Kavya", "Pooja", "Neha", "Sneha", "Meera", "Lakshmi", "Fatima",
    "Sunita", "Rekha", "Anjali", "Swati", "Divya", "Simran", "Ayesha", "Shreya", "Nandini", "Bhavna",
]
LAST_NAMES = [
    "Sharma", "Verma", "Gupta", "Agarwal", "Singh", "Yadav", "Kumar", "Patel", "Shah", "Mehta",
    "Reddy", "Rao", "Iyer", "Nair", "Menon", "Pillai", "Das", "Banerjee", "Chatterjee", "Mukherjee",
    "Khan", "Ansari", "Qureshi", "Gill", "Sandhu", "Joshi", "Kulkarni", "Deshmukh", "Mishra", "Tiwari",
]
# fmt: on
COURIERS = {
    "Delhivery": ("DLV", 12),
    "Blue Dart": ("BD", 10),
    "Ekart": ("FMPP", 10),
    "Xpressbees": ("XB", 12),
    "Shadowfax": ("SF", 10),
    "India Post": ("EK", 9),
}
STATUS_COUNTS = {
    "placed": 20,
    "packed": 20,
    "shipped": 35,
    "out_for_delivery": 20,
    "delivered": 60,
    "cancelled": 25,
    "returned": 20,
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def at_ist(day: date, hour: int, minute: int) -> datetime:
    # IST is UTC+05:30 all year.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def delivery_days(rng: random.Random, pincode: str, region: str, warehouse: str) -> int:
    if region == "REMOTE":
        return rng.randint(7, 10)
    if region == warehouse:
        return 1 if pincode in METRO_SAME_DAY else rng.randint(1, 3)
    return rng.randint(3, 6)


def build_products(rng: random.Random) -> list[dict[str, Any]]:
    products = []
    for sku, name, category, subcategory, brand, price, hinglish, hindi in PRODUCTS:
        if sku in OUT_OF_STOCK:
            stock = dict.fromkeys(WAREHOUSES, 0)
        elif sku in LOW_STOCK:
            stock = dict.fromkeys(WAREHOUSES, 0) | {"GGN": LOW_STOCK[sku]}
        else:
            stock = {warehouse: rng.choice([0, 3, 8, 15, 25, 40, 60, 120]) for warehouse in WAREHOUSES}
            if sum(stock.values()) == 0:
                stock["GGN"] = 10
        home = max(stock, key=lambda warehouse: stock[warehouse]) if sum(stock.values()) else "GGN"
        serviceable = []
        for pincode, _, region in PINCODES:
            if region == "REMOTE" and sku in BULKY:
                continue
            warehouse = region if region in WAREHOUSES and stock.get(region, 0) > 0 else home
            serviceable.append(
                {
                    "pincode": pincode,
                    "warehouse": warehouse,
                    "delivery_days": delivery_days(rng, pincode, region, warehouse),
                }
            )
        products.append(
            {
                "sku": sku,
                "name": name,
                "hindi_aliases": hindi,
                "hinglish_aliases": hinglish,
                "category": category,
                "subcategory": subcategory,
                "brand": brand,
                "price_inr": float(price),
                "stock": stock,
                "serviceable": serviceable,
            }
        )
    return products


def random_mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        phone = "+91" + rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))
        if phone not in taken:
            taken.add(phone)
            return phone


def build_customers(rng: random.Random) -> list[dict[str, Any]]:
    created = iso(at_ist(date(2025, 6, 1), 10, 0))
    customers = [
        {
            "phone": "+919876543210",
            "name": "Rahul Sharma",
            "preferred_language": "hinglish",
            "pincode": "110017",
            "city": "New Delhi",
            "created_at": created,
        },
        {
            "phone": "+919812345678",
            "name": "Priya Nair",
            "preferred_language": "english",
            "pincode": "560034",
            "city": "Bengaluru",
            "created_at": created,
        },
    ]
    taken = {customer["phone"] for customer in customers}
    normal_pincodes = [entry for entry in PINCODES if entry[2] != "REMOTE"]
    while len(customers) < 50:
        pincode, city, _ = rng.choice(PINCODES if len(customers) % 20 == 0 else normal_pincodes)
        joined = date(2024, 1, 1) + timedelta(days=rng.randint(0, 650))
        customers.append(
            {
                "phone": random_mobile(rng, taken),
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "preferred_language": rng.choices(["hinglish", "hindi", "english"], weights=[6, 3, 2])[0],
                "pincode": pincode,
                "city": city,
                "created_at": iso(at_ist(joined, rng.randint(8, 22), rng.randint(0, 59))),
            }
        )
    return customers


def tracking_id(rng: random.Random, courier: str) -> str:
    prefix, length = COURIERS[courier]
    return prefix + "".join(rng.choice("0123456789") for _ in range(length))


def make_order(
    rng: random.Random,
    order_id: str,
    customer: dict[str, Any],
    products: list[dict[str, Any]],
    status: str,
    *,
    payment: str | None = None,
    refund: str | None = None,
    skus: list[str] | None = None,
) -> dict[str, Any]:
    by_sku = {product["sku"]: product for product in products}
    chosen = [by_sku[sku] for sku in skus] if skus else rng.sample(products, rng.choices([1, 2, 3], [6, 3, 1])[0])
    items = [
        {
            "sku": product["sku"],
            "name": product["name"],
            "qty": 1 if product["price_inr"] > 2000 else rng.randint(1, 3),
            "price_inr": product["price_inr"],
        }
        for product in chosen
    ]
    payment = payment or rng.choices(["COD", "UPI", "card"], weights=[35, 45, 20])[0]
    age = {
        "placed": (0, 1),
        "packed": (1, 2),
        "shipped": (2, 4),
        "out_for_delivery": (2, 6),
        "delivered": (8, 60),  # transit is at most 7 days: delivered before TODAY
        "cancelled": (2, 50),
        "returned": (15, 60),
    }[status]
    placed_day = TODAY - timedelta(days=rng.randint(*age))
    transit = rng.randint(3, 6)
    promised = placed_day + timedelta(days=transit)
    expected: date | None = promised
    delivered_on = None
    courier = None
    if status == "out_for_delivery":
        expected = TODAY
    elif status == "shipped":
        expected = max(promised, TODAY + timedelta(days=1))
    elif status in ("delivered", "returned"):
        delivered_on = placed_day + timedelta(days=transit + rng.choice([-1, 0, 0, 1]))
    if status != "placed" and not (status == "cancelled" and rng.random() < 0.6):
        courier = rng.choice(list(COURIERS))
    if status == "cancelled":
        expected = None
    if refund is None:
        if status == "cancelled":
            refund = "not_applicable" if payment == "COD" else rng.choice(["processed", "processed", "pending"])
        elif status == "returned":
            refund = rng.choice(["processed", "pending", "pending", "failed"])
        else:
            refund = "not_applicable"
    placed_at = at_ist(placed_day, rng.randint(7, 23), rng.randint(0, 59))
    return {
        "order_id": order_id,
        "customer_phone": customer["phone"],
        "items": items,
        "status": status,
        "payment_method": payment,
        "refund_status": refund,
        "shipping_pincode": customer["pincode"],
        "courier": courier,
        "tracking_id": tracking_id(rng, courier) if courier else None,
        "placed_at": iso(placed_at),
        "expected_delivery": expected.isoformat() if expected else None,
        "delivered_on": delivered_on.isoformat() if delivered_on else None,
        "updated_at": iso(at_ist(min(TODAY, placed_day + timedelta(days=age[0])), 9, 0)),
    }


DEMO_ORDERS: list[tuple[str, int, str, dict[str, Any]]] = [
    # order id, customer index, status, fixed fields
    ("ORD-482913", 0, "shipped", {"payment": "UPI", "skus": ["BOAT-AD141"]}),
    ("ORD-482914", 0, "delivered", {"payment": "COD", "skus": ["PRS-CKR-5L", "PIG-TAWA-28"]}),
    ("ORD-482915", 0, "out_for_delivery", {"payment": "card", "skus": ["BJJ-MXR-750"]}),
    ("ORD-482916", 0, "cancelled", {"payment": "UPI", "refund": "processed", "skus": ["FBI-KRT-M"]}),
    ("ORD-482917", 0, "placed", {"payment": "COD", "skus": ["AAS-ATTA-10", "TATA-SALT-1"]}),
    ("ORD-731205", 1, "returned", {"payment": "card", "refund": "pending", "skus": ["SONY-WHCH520"]}),
    ("ORD-731206", 1, "packed", {"payment": "UPI", "skus": ["CLS-NB-6"]}),
]


def build_orders(
    rng: random.Random, customers: list[dict[str, Any]], products: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    orders = [
        make_order(rng, order_id, customers[index], products, status, **fixed)
        for order_id, index, status, fixed in DEMO_ORDERS
    ]
    remaining = dict(STATUS_COUNTS)
    for order in orders:
        remaining[order["status"]] -= 1
    used = {order["order_id"] for order in orders}
    statuses = [status for status, count in remaining.items() for _ in range(count)]
    rng.shuffle(statuses)
    others = customers[2:]
    for status in statuses:
        order_id = f"ORD-{rng.randint(100000, 999999)}"
        while order_id in used:
            order_id = f"ORD-{rng.randint(100000, 999999)}"
        used.add(order_id)
        orders.append(make_order(rng, order_id, rng.choice(others), products, status))
    return orders


def write(name: str, records: list[dict[str, Any]]) -> None:
    text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    (DATA_DIR / name).write_text(text, encoding="utf-8")


def main() -> None:
    rng = random.Random(SEED)
    products = build_products(rng)
    customers = build_customers(rng)
    orders = build_orders(rng, customers, products)
    write("products.json", products)
    write("customers.json", customers)
    write("orders.json", orders)
    print(f"wrote {len(products)} products, {len(customers)} customers, {len(orders)} orders to {DATA_DIR}")


if __name__ == "__main__":
    main()
