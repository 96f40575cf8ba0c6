/** jabmon's version, reported in disco, XEP-0092 and agent presence. */
export const VERSION = "0.1.0";
