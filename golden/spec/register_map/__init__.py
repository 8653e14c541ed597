"""The register map: its description (fields, registers, builder), the accelerator's concrete map and the Markdown / C-header emitters."""
