"""CirQliz: access rights for restricted urban zones, with signed QR passes verified offline."""

__version__ = "0.1.0"
