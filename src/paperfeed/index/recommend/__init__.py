"""The recommendation features: every paper's vector and tf-idf words as mapped files shared by a
machine's processes, and who builds them.
"""
