"""Visual inspection: matplotlib dashboards (``viz.plots``) and pyvista 3D scenes,
renders and animations (``viz.scene3d``, ``viz.render``), rendered offscreen."""
