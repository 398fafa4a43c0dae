% Not a MATPOWER case: a spreadsheet export saved with the wrong extension.
bus,load_mw
1,10
2,20
