enum CatalogDump { static let query = "SELECT 1" } // TEMPORARY
